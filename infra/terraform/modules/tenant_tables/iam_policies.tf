# GENERATED from salestalk_lib/iam/policies.py by `python -m devtools.iam_terraform`.
# Do not edit: change the library and regenerate (tests/test_iam_terraform.py
# fails while this file differs from what the library renders).
#
# One IAM policy per role (reader, writer, admin) of this tenant. Each names the
# exact ARNs of the tenant's two tables and their indexes (never a prefix
# wildcard such as tenant-<id>*, which another tenant's tables could match),
# and reaches the registry only as GetItem of the tenant's own item, enforced
# with dynamodb:LeadingKeys. Why each action is there: salestalk_lib/iam/policies.py.

locals {
  # The registry sits beside this tenant's tables (same partition, region and
  # account) under the same table prefix.
  iam_registry_table_arn = "${trimsuffix(aws_dynamodb_table.messages.arn, aws_dynamodb_table.messages.name)}${var.table_prefix}tenants-metadata"
  # IAM policy names: prefix + tenant id + role, at most 128 characters.
  policy_name_base = "${var.table_prefix}tenant-${var.tenant_id}"
}

resource "aws_iam_policy" "reader" {
  name        = "${local.policy_name_base}-reader"
  path        = "/salestalk/"
  description = "SalesTalk tenant ${var.tenant_id}: reader of its own tables and registry item"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "OwnTables"
        Effect = "Allow"
        Action = [
          "dynamodb:BatchGetItem",
          "dynamodb:DescribeTable",
          "dynamodb:GetItem",
          "dynamodb:Query",
        ]
        Resource = [
          aws_dynamodb_table.messages.arn,
          aws_dynamodb_table.metrics.arn,
        ]
      },
      {
        Sid    = "OwnIndexes"
        Effect = "Allow"
        Action = ["dynamodb:Query"]
        Resource = [
          "${aws_dynamodb_table.messages.arn}/index/SessionIndex",
          "${aws_dynamodb_table.messages.arn}/index/SenderIndex",
          "${aws_dynamodb_table.metrics.arn}/index/MetricTypeIndex",
          "${aws_dynamodb_table.metrics.arn}/index/DimensionIndex",
        ]
      },
      {
        Sid      = "OwnRegistryItem"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem"]
        Resource = [local.iam_registry_table_arn]
        Condition = {
          "ForAllValues:StringEquals" = {
            "dynamodb:LeadingKeys" = [var.tenant_id]
          }
          Null = {
            "dynamodb:LeadingKeys" = "false"
          }
        }
      },
    ]
  })

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-reader-policy"
    TenantId    = var.tenant_id
  }

  lifecycle {
    precondition {
      condition     = length("${local.policy_name_base}-reader") <= 128
      error_message = "IAM policy names are at most 128 characters: shorten table_prefix or the tenant id."
    }
  }
}

resource "aws_iam_policy" "writer" {
  name        = "${local.policy_name_base}-writer"
  path        = "/salestalk/"
  description = "SalesTalk tenant ${var.tenant_id}: writer of its own tables and registry item"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "OwnTables"
        Effect = "Allow"
        Action = [
          "dynamodb:BatchGetItem",
          "dynamodb:BatchWriteItem",
          "dynamodb:ConditionCheckItem",
          "dynamodb:DeleteItem",
          "dynamodb:DescribeTable",
          "dynamodb:GetItem",
          "dynamodb:PutItem",
          "dynamodb:Query",
          "dynamodb:UpdateItem",
        ]
        Resource = [
          aws_dynamodb_table.messages.arn,
          aws_dynamodb_table.metrics.arn,
        ]
      },
      {
        Sid    = "OwnIndexes"
        Effect = "Allow"
        Action = ["dynamodb:Query"]
        Resource = [
          "${aws_dynamodb_table.messages.arn}/index/SessionIndex",
          "${aws_dynamodb_table.messages.arn}/index/SenderIndex",
          "${aws_dynamodb_table.metrics.arn}/index/MetricTypeIndex",
          "${aws_dynamodb_table.metrics.arn}/index/DimensionIndex",
        ]
      },
      {
        Sid      = "OwnRegistryItem"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem"]
        Resource = [local.iam_registry_table_arn]
        Condition = {
          "ForAllValues:StringEquals" = {
            "dynamodb:LeadingKeys" = [var.tenant_id]
          }
          Null = {
            "dynamodb:LeadingKeys" = "false"
          }
        }
      },
    ]
  })

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-writer-policy"
    TenantId    = var.tenant_id
  }

  lifecycle {
    precondition {
      condition     = length("${local.policy_name_base}-writer") <= 128
      error_message = "IAM policy names are at most 128 characters: shorten table_prefix or the tenant id."
    }
  }
}

resource "aws_iam_policy" "admin" {
  name        = "${local.policy_name_base}-admin"
  path        = "/salestalk/"
  description = "SalesTalk tenant ${var.tenant_id}: admin of its own tables and registry item"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "OwnTables"
        Effect = "Allow"
        Action = [
          "dynamodb:BatchGetItem",
          "dynamodb:BatchWriteItem",
          "dynamodb:ConditionCheckItem",
          "dynamodb:DeleteItem",
          "dynamodb:DescribeContinuousBackups",
          "dynamodb:DescribeTable",
          "dynamodb:DescribeTimeToLive",
          "dynamodb:GetItem",
          "dynamodb:PutItem",
          "dynamodb:Query",
          "dynamodb:Scan",
          "dynamodb:UpdateItem",
        ]
        Resource = [
          aws_dynamodb_table.messages.arn,
          aws_dynamodb_table.metrics.arn,
        ]
      },
      {
        Sid    = "OwnIndexes"
        Effect = "Allow"
        Action = ["dynamodb:Query"]
        Resource = [
          "${aws_dynamodb_table.messages.arn}/index/SessionIndex",
          "${aws_dynamodb_table.messages.arn}/index/SenderIndex",
          "${aws_dynamodb_table.metrics.arn}/index/MetricTypeIndex",
          "${aws_dynamodb_table.metrics.arn}/index/DimensionIndex",
        ]
      },
      {
        Sid      = "OwnRegistryItem"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem"]
        Resource = [local.iam_registry_table_arn]
        Condition = {
          "ForAllValues:StringEquals" = {
            "dynamodb:LeadingKeys" = [var.tenant_id]
          }
          Null = {
            "dynamodb:LeadingKeys" = "false"
          }
        }
      },
      {
        Sid    = "NoTableSettingsOrCopies"
        Effect = "Deny"
        Action = [
          "dynamodb:CreateBackup",
          "dynamodb:CreateGlobalTable",
          "dynamodb:CreateTable",
          "dynamodb:CreateTableReplica",
          "dynamodb:DeleteBackup",
          "dynamodb:DeleteResourcePolicy",
          "dynamodb:DeleteTable",
          "dynamodb:DeleteTableReplica",
          "dynamodb:DisableKinesisStreamingDestination",
          "dynamodb:EnableKinesisStreamingDestination",
          "dynamodb:ExportTableToPointInTime",
          "dynamodb:ImportTable",
          "dynamodb:PutResourcePolicy",
          "dynamodb:RestoreTableFromAwsBackup",
          "dynamodb:RestoreTableFromBackup",
          "dynamodb:RestoreTableToPointInTime",
          "dynamodb:StartAwsBackupJob",
          "dynamodb:TagResource",
          "dynamodb:UntagResource",
          "dynamodb:UpdateContinuousBackups",
          "dynamodb:UpdateGlobalTable",
          "dynamodb:UpdateGlobalTableSettings",
          "dynamodb:UpdateGlobalTableVersion",
          "dynamodb:UpdateKinesisStreamingDestination",
          "dynamodb:UpdateTable",
          "dynamodb:UpdateTableReplicaAutoScaling",
          "dynamodb:UpdateTimeToLive",
        ]
        Resource = "*"
      },
    ]
  })

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-admin-policy"
    TenantId    = var.tenant_id
  }

  lifecycle {
    precondition {
      condition     = length("${local.policy_name_base}-admin") <= 128
      error_message = "IAM policy names are at most 128 characters: shorten table_prefix or the tenant id."
    }
  }
}

output "reader_policy_arn" {
  description = "ARN of the tenant's reader IAM policy."
  value       = aws_iam_policy.reader.arn
}

output "writer_policy_arn" {
  description = "ARN of the tenant's writer IAM policy."
  value       = aws_iam_policy.writer.arn
}

output "admin_policy_arn" {
  description = "ARN of the tenant's admin IAM policy."
  value       = aws_iam_policy.admin.arn
}
