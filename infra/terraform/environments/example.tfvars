# Example: terraform plan -var-file=environments/example.tfvars
aws_region   = "us-east-1"
environment  = "dev"
table_prefix = ""

# Tenants that get their own tables. Order does not matter: this is a set.
tenant_ids = [
  "acme-corp",
  "techstart-inc",
]

# Optional: deletion protection defaults to on only in production.
# deletion_protection_enabled = true

# Optional: expire messages through their `ttl` attribute.
messages_ttl_enabled = false
