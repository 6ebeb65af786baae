"""Embedded services event sources read from: an SQS-compatible queue and a Kinesis-compatible
stream, durable in ``<data_dir>/services.db``. ``queue.QueueService`` and
``stream.StreamService`` are their Python APIs; ``api/sqs.py`` and ``api/kinesis.py`` put them on
the wire."""
