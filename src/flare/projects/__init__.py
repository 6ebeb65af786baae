"""Projects as they are: ``flare deploy --template template.yaml`` (AWS SAM / CloudFormation).

The client side only: nothing here is imported by the engine or an environment's start-up. A
template is read and translated to plain CloudFormation by AWS's own ``aws-sam-translator``
(``sam_template``), its resources ordered by what they reference (``order``), their intrinsic
functions resolved against what Flare already holds (``intrinsic``), each compared with the
resource as Flare has it (``plan``, pure) and created or updated through Flare's public API
(``lambda_resources``, ``source_resources``, driven by ``stack``).
"""
