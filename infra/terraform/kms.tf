# One customer-managed key encrypts every SalesTalk table in this account and
# region. Isolation between tenants comes from table-per-tenant plus IAM
# policies naming exact table ARNs; a key per tenant would add a monthly cost
# per tenant without narrowing access any further.
resource "aws_kms_key" "dynamodb" {
  description             = "SalesTalk DynamoDB tables (${var.environment})"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days

  # An explicit key policy: the account root administers the key, so IAM
  # policies in this account decide who may use it (DynamoDB calls KMS with the
  # caller's credentials through grants).
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountRootAdministersKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  })

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "table-encryption"
  }
}

resource "aws_kms_alias" "dynamodb" {
  name          = "alias/${var.table_prefix}salestalk-dynamodb-${var.environment}"
  target_key_id = aws_kms_key.dynamodb.key_id
}
