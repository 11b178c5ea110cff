# The global tenant registry: one item per tenant, keyed by tenantId.
resource "aws_dynamodb_table" "tenants_metadata" {
  name                        = "${var.table_prefix}tenants-metadata"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "tenantId"
  deletion_protection_enabled = local.deletion_protection_enabled

  attribute {
    name = "tenantId"
    type = "S"
  }

  attribute {
    name = "ownerEmail"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  global_secondary_index {
    name            = "OwnerEmailIndex"
    hash_key        = "ownerEmail"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "StatusIndex"
    hash_key        = "status"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.dynamodb.arn
  }

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-registry"
  }
}
