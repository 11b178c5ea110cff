"""SalesTalk data platform: multi-tenant DynamoDB contracts, provisioning, ingestion and queries."""

__version__ = "0.1.0"
