"""IAM for execution roles: policy documents and their evaluation (``policy``), what each API
operation is authorized as (``actions``), a role's default policy (``defaults``), the managed
policies of roles (``roles``) and the decision on a function's request (``authorize``)."""
