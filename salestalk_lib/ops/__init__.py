"""What the platform does with the tables: provision, onboard, seed, ingest, query, audit.

Owns the `SalesTalk` connection (`connection`), provisioning (`provision`), the tenant
registry and lifecycle (`tenants`), the seed loader (`seed`), idempotent ingestion with its
batch records and event inbox (`ingest`, `batches`, `inbox`), event envelopes and sinks
(`events`), the access patterns (the contract's eleven and one beyond) returning DataFrames (`patterns`), data references
(`references`) and the audit (`audit`). It talks to DynamoDB only through `dynamo`'s
`Storage` and may import `contract` and `dynamo`; never boto3 itself, `iam`, `testing` or `cli`.
"""
