# Per-tenant IAM policies go here (not implemented yet; another change adds them).
#
# What they must do (CONTRACTS.md section 5):
# - name the exact table ARNs, aws_dynamodb_table.messages.arn and
#   aws_dynamodb_table.metrics.arn, plus each one's "${arn}/index/*";
#   never a prefix wildcard such as "tenant-${var.tenant_id}*", which another
#   tenant's name (for example "acme" vs "acme-eu") could match;
# - reach the registry table only through the condition
#   dynamodb:LeadingKeys = [var.tenant_id] (pass the registry ARN in as a new
#   variable; this module does not know it today);
# - carry the same tags as the tables (Service, ManagedBy, Environment, TenantId).
#
# Add the policy ARN to outputs.tf and to the root output `tenant_tables`.
