"""The one seam to DynamoDB: endpoints, the storage seam, the tenant scope, retries, conditional writes.

Owns choosing and guarding an endpoint (`endpoint`), the `Storage` seam that serialises
requests, checks them against its policies and translates botocore's errors into the
library's own (`storage`), the tenant scope's request policy (`scope`), the retry policy
(`retry`), the create-once conditional write (`writes`) and the EventBridge sink
(`eventbridge`). It is the only layer that imports boto3 or botocore (an import-linter
contract in pyproject.toml checks it). It may import `contract` and `embedded` (to start an
embedded engine when no endpoint is given), never `ops`, `iam`, `testing` or `cli`.
"""
