"""The data contract, pure: what a valid tenant, message, metric or event is, and how keys are spelled.

Owns the key grammar (`keys`), the controlled vocabularies (`vocab`, `currency`), the table
specs (`tables`), capacity units by DynamoDB's rules (`capacity`), the pydantic models
(`models`: the one import point for the field rules in `fields`, the stored items in `items`,
the event envelopes in `envelopes` and the JSON Schemas in `schemas`), record validation
(`validation`), deployment settings and the local-endpoint decision (`settings`,
`endpoint_guard`) and the error types every layer raises (`errors`). It knows nothing of
boto3, botocore or a network: it may import only the standard library, pydantic and itself,
so everything it says can be checked offline and published as documentation.
"""
