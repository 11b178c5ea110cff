# The messages table: messages (pk=MSG#{messageId}) and session rollups
# (pk=SESSION#{sessionId}, sk=METADATA). Rollups carry no `timestamp` or
# `sender`, so both indexes stay sparse and never return them.
resource "aws_dynamodb_table" "messages" {
  name                        = "${var.table_prefix}tenant-${var.tenant_id}-messages"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "sessionId"
    type = "S"
  }

  attribute {
    name = "sender"
    type = "S"
  }

  attribute {
    name = "timestamp"
    type = "N"
  }

  global_secondary_index {
    name            = "SessionIndex"
    hash_key        = "sessionId"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "SenderIndex"
    hash_key        = "sender"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  # The ttl block appears only when enabled: the AWS provider rejects
  # attribute_name on a disabled ttl block, and DynamoDB rejects an empty one.
  dynamic "ttl" {
    for_each = var.messages_ttl_enabled ? [1] : []
    content {
      attribute_name = "ttl"
      enabled        = true
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "conversation-messages"
    TenantId    = var.tenant_id
  }
}

# The metrics table: pk=METRIC#{subject}; headline sk=period, slice
# sk={period}#{dimName}:{dimValue}. Only slices carry `dimensionKey`, so
# DimensionIndex is sparse.
resource "aws_dynamodb_table" "metrics" {
  name                        = "${var.table_prefix}tenant-${var.tenant_id}-metrics"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "metricType"
    type = "S"
  }

  attribute {
    name = "dimensionKey"
    type = "S"
  }

  attribute {
    name = "timestamp"
    type = "N"
  }

  global_secondary_index {
    name            = "MetricTypeIndex"
    hash_key        = "metricType"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  global_secondary_index {
    name            = "DimensionIndex"
    hash_key        = "dimensionKey"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "business-metrics"
    TenantId    = var.tenant_id
  }
}
