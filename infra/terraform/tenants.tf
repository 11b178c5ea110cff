# Per-tenant tables, keyed by tenant id. for_each (never count over a list):
# each tenant's tables live at module.tenant_tables["<id>"], so removing one
# tenant destroys only that tenant's tables instead of re-indexing the rest.
module "tenant_tables" {
  source   = "./modules/tenant_tables"
  for_each = var.tenant_ids

  tenant_id                   = each.key
  environment                 = var.environment
  table_prefix                = var.table_prefix
  kms_key_arn                 = aws_kms_key.dynamodb.arn
  deletion_protection_enabled = local.deletion_protection_enabled
  messages_ttl_enabled        = var.messages_ttl_enabled
}
