# Example: terraform plan -var-file=environments/example.tfvars
aws_region   = "us-east-1"
environment  = "dev"
table_prefix = ""

# Tenants that get their own tables. Order does not matter: this is a set.
tenant_ids = [
  "acme-corp",
  "techstart-inc",
]

# Who opens tenant sessions: the platform's broker role(s). They assume
# salestalk-tenant-{reader,writer,admin} with the session tag TenantId=<id>.
tenant_broker_principal_arns = [
  "arn:aws:iam::123456789012:role/salestalk-broker",
]

# Optional: deletion protection defaults to on only in production.
# deletion_protection_enabled = true

# Optional: expire messages through their `ttl` attribute.
messages_ttl_enabled = false
