# GENERATED from salestalk_lib/iam/policies.py by `python -m devtools.iam_terraform`.
# Do not edit: change the library and regenerate (tests/test_iam_terraform.py
# fails while this file differs from what the library renders).
#
# The whole IAM of the tenants, constant in the number of tenants: one role and one
# policy per access level (reader, writer, admin). A tenant's session is the role
# assumed by a broker with the session tag TenantId=<id>; every Allow names the
# tenant's tables through ${aws:PrincipalTag/TenantId} (written $${...} here so IAM,
# not Terraform, resolves it) and requires the table's TenantId tag to equal it.
# Why each statement is there: salestalk_lib/iam/policies.py.

locals {
  # Every tenant table's ARN starts with this (the tenant part is the policy variable).
  tenant_table_arn_prefix = "arn:${data.aws_partition.current.partition}:dynamodb:${var.aws_region}:${data.aws_caller_identity.current.account_id}:table/${var.table_prefix}"
}

resource "aws_iam_policy" "tenant_reader" {
  name        = "${var.table_prefix}salestalk-tenant-reader"
  path        = "/salestalk/"
  description = "SalesTalk tenant reader: the session tenant's own tables (TenantId tag) and registry item"
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
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics",
        ]
        Condition = {
          StringEquals = {
            "aws:ResourceTag/TenantId" = "$${aws:PrincipalTag/TenantId}"
          }
        }
      },
      {
        Sid    = "OwnIndexes"
        Effect = "Allow"
        Action = ["dynamodb:Query"]
        Resource = [
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages/index/SessionIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages/index/SenderIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics/index/MetricTypeIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics/index/DimensionIndex",
        ]
        Condition = {
          StringEquals = {
            "aws:ResourceTag/TenantId" = "$${aws:PrincipalTag/TenantId}"
          }
        }
      },
      {
        Sid      = "OwnRegistryItem"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem"]
        Resource = [aws_dynamodb_table.tenants_metadata.arn]
        Condition = {
          "ForAllValues:StringEquals" = {
            "dynamodb:LeadingKeys" = ["$${aws:PrincipalTag/TenantId}"]
          }
          Null = {
            "dynamodb:LeadingKeys" = "false"
          }
        }
      },
      {
        Sid      = "NoTenantTag"
        Effect   = "Deny"
        Action   = "dynamodb:*"
        Resource = "*"
        Condition = {
          Null = {
            "aws:PrincipalTag/TenantId" = "true"
          }
        }
      },
      {
        Sid    = "NoRetagging"
        Effect = "Deny"
        Action = [
          "dynamodb:TagResource",
          "dynamodb:UntagResource",
        ]
        Resource = "*"
      },
    ]
  })

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-reader-policy"
  }
}

resource "aws_iam_role" "tenant_reader" {
  name                 = "${var.table_prefix}salestalk-tenant-reader"
  path                 = "/salestalk/"
  description          = "SalesTalk tenant reader: assumed by the broker with session tag TenantId"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "BrokerOpensTaggedSessions"
        Effect = "Allow"
        Principal = {
          AWS = var.tenant_broker_principal_arns
        }
        Action = [
          "sts:AssumeRole",
          "sts:TagSession",
        ]
        Condition = {
          Null = {
            "aws:RequestTag/TenantId" = "false"
          }
          "ForAllValues:StringEquals" = {
            "aws:TagKeys" = ["TenantId"]
          }
        }
      },
    ]
  })

  # No TenantId tag on the role: the tenant comes from the session tag only.
  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-reader-role"
  }

  lifecycle {
    precondition {
      condition     = length("${var.table_prefix}salestalk-tenant-reader") <= 64
      error_message = "IAM role names are at most 64 characters: shorten table_prefix."
    }
  }
}

resource "aws_iam_role_policy_attachment" "tenant_reader" {
  role       = aws_iam_role.tenant_reader.name
  policy_arn = aws_iam_policy.tenant_reader.arn
}

resource "aws_iam_policy" "tenant_writer" {
  name        = "${var.table_prefix}salestalk-tenant-writer"
  path        = "/salestalk/"
  description = "SalesTalk tenant writer: the session tenant's own tables (TenantId tag) and registry item"
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
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics",
        ]
        Condition = {
          StringEquals = {
            "aws:ResourceTag/TenantId" = "$${aws:PrincipalTag/TenantId}"
          }
        }
      },
      {
        Sid    = "OwnIndexes"
        Effect = "Allow"
        Action = ["dynamodb:Query"]
        Resource = [
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages/index/SessionIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages/index/SenderIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics/index/MetricTypeIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics/index/DimensionIndex",
        ]
        Condition = {
          StringEquals = {
            "aws:ResourceTag/TenantId" = "$${aws:PrincipalTag/TenantId}"
          }
        }
      },
      {
        Sid      = "OwnRegistryItem"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem"]
        Resource = [aws_dynamodb_table.tenants_metadata.arn]
        Condition = {
          "ForAllValues:StringEquals" = {
            "dynamodb:LeadingKeys" = ["$${aws:PrincipalTag/TenantId}"]
          }
          Null = {
            "dynamodb:LeadingKeys" = "false"
          }
        }
      },
      {
        Sid      = "NoTenantTag"
        Effect   = "Deny"
        Action   = "dynamodb:*"
        Resource = "*"
        Condition = {
          Null = {
            "aws:PrincipalTag/TenantId" = "true"
          }
        }
      },
      {
        Sid    = "NoRetagging"
        Effect = "Deny"
        Action = [
          "dynamodb:TagResource",
          "dynamodb:UntagResource",
        ]
        Resource = "*"
      },
    ]
  })

  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-writer-policy"
  }
}

resource "aws_iam_role" "tenant_writer" {
  name                 = "${var.table_prefix}salestalk-tenant-writer"
  path                 = "/salestalk/"
  description          = "SalesTalk tenant writer: assumed by the broker with session tag TenantId"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "BrokerOpensTaggedSessions"
        Effect = "Allow"
        Principal = {
          AWS = var.tenant_broker_principal_arns
        }
        Action = [
          "sts:AssumeRole",
          "sts:TagSession",
        ]
        Condition = {
          Null = {
            "aws:RequestTag/TenantId" = "false"
          }
          "ForAllValues:StringEquals" = {
            "aws:TagKeys" = ["TenantId"]
          }
        }
      },
    ]
  })

  # No TenantId tag on the role: the tenant comes from the session tag only.
  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-writer-role"
  }

  lifecycle {
    precondition {
      condition     = length("${var.table_prefix}salestalk-tenant-writer") <= 64
      error_message = "IAM role names are at most 64 characters: shorten table_prefix."
    }
  }
}

resource "aws_iam_role_policy_attachment" "tenant_writer" {
  role       = aws_iam_role.tenant_writer.name
  policy_arn = aws_iam_policy.tenant_writer.arn
}

resource "aws_iam_policy" "tenant_admin" {
  name        = "${var.table_prefix}salestalk-tenant-admin"
  path        = "/salestalk/"
  description = "SalesTalk tenant admin: the session tenant's own tables (TenantId tag) and registry item"
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
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics",
        ]
        Condition = {
          StringEquals = {
            "aws:ResourceTag/TenantId" = "$${aws:PrincipalTag/TenantId}"
          }
        }
      },
      {
        Sid    = "OwnIndexes"
        Effect = "Allow"
        Action = ["dynamodb:Query"]
        Resource = [
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages/index/SessionIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-messages/index/SenderIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics/index/MetricTypeIndex",
          "${local.tenant_table_arn_prefix}tenant-$${aws:PrincipalTag/TenantId}-metrics/index/DimensionIndex",
        ]
        Condition = {
          StringEquals = {
            "aws:ResourceTag/TenantId" = "$${aws:PrincipalTag/TenantId}"
          }
        }
      },
      {
        Sid      = "OwnRegistryItem"
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem"]
        Resource = [aws_dynamodb_table.tenants_metadata.arn]
        Condition = {
          "ForAllValues:StringEquals" = {
            "dynamodb:LeadingKeys" = ["$${aws:PrincipalTag/TenantId}"]
          }
          Null = {
            "dynamodb:LeadingKeys" = "false"
          }
        }
      },
      {
        Sid      = "NoTenantTag"
        Effect   = "Deny"
        Action   = "dynamodb:*"
        Resource = "*"
        Condition = {
          Null = {
            "aws:PrincipalTag/TenantId" = "true"
          }
        }
      },
      {
        Sid    = "NoRetagging"
        Effect = "Deny"
        Action = [
          "dynamodb:TagResource",
          "dynamodb:UntagResource",
        ]
        Resource = "*"
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
  }
}

resource "aws_iam_role" "tenant_admin" {
  name                 = "${var.table_prefix}salestalk-tenant-admin"
  path                 = "/salestalk/"
  description          = "SalesTalk tenant admin: assumed by the broker with session tag TenantId"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "BrokerOpensTaggedSessions"
        Effect = "Allow"
        Principal = {
          AWS = var.tenant_broker_principal_arns
        }
        Action = [
          "sts:AssumeRole",
          "sts:TagSession",
        ]
        Condition = {
          Null = {
            "aws:RequestTag/TenantId" = "false"
          }
          "ForAllValues:StringEquals" = {
            "aws:TagKeys" = ["TenantId"]
          }
        }
      },
    ]
  })

  # No TenantId tag on the role: the tenant comes from the session tag only.
  tags = {
    Service     = "salestalk"
    ManagedBy   = "terraform"
    Environment = var.environment
    Purpose     = "tenant-admin-role"
  }

  lifecycle {
    precondition {
      condition     = length("${var.table_prefix}salestalk-tenant-admin") <= 64
      error_message = "IAM role names are at most 64 characters: shorten table_prefix."
    }
  }
}

resource "aws_iam_role_policy_attachment" "tenant_admin" {
  role       = aws_iam_role.tenant_admin.name
  policy_arn = aws_iam_policy.tenant_admin.arn
}

output "tenant_role_arns" {
  description = "Per access level: the role a broker assumes, with session tag TenantId=<id>, for a tenant session."
  value = {
    reader = aws_iam_role.tenant_reader.arn
    writer = aws_iam_role.tenant_writer.arn
    admin  = aws_iam_role.tenant_admin.arn
  }
}

output "tenant_policy_arns" {
  description = "Per access level: the one IAM policy every tenant session of that level runs under."
  value = {
    reader = aws_iam_policy.tenant_reader.arn
    writer = aws_iam_policy.tenant_writer.arn
    admin  = aws_iam_policy.tenant_admin.arn
  }
}
