"""Who a request comes from: SigV4 signatures, access keys, environment credentials."""
