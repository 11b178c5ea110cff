variable "aws_region" {
  description = "AWS region for every table and the KMS key."
  type        = string
  default     = "us-east-1"
}

variable "environment" {
  description = "Deployment environment; becomes the Environment tag and decides deletion protection."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be one of: dev, staging, production."
  }
}

variable "table_prefix" {
  description = "Optional prefix put in front of every table name (same rule as SALESTALK_TABLE_PREFIX)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{0,64}$", var.table_prefix))
    error_message = "table_prefix may use only letters, digits, '_', '.', '-' (at most 64 characters)."
  }

  # The key grammar's rule (salestalk_lib.contract.keys.table_prefix_problem): with "tenant-" in the
  # prefix one table name (and ARN) would belong to two deployments.
  validation {
    condition     = !strcontains(var.table_prefix, "tenant-")
    error_message = "table_prefix must not contain \"tenant-\": prefix \"tenant-x-\" + tenant \"y\" would name the table of tenant \"x-tenant-y\" without a prefix."
  }
}

variable "tenant_ids" {
  description = "Tenants that get their own messages and metrics tables. A set: adding or removing one tenant never touches another tenant's tables."
  type        = set(string)
  default     = []

  validation {
    condition = alltrue([
      for id in var.tenant_ids :
      length(id) >= 1 && length(id) <= 64 && can(regex("^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", id))
    ])
    error_message = "Each tenant id must be 1-64 characters of lowercase letters, digits and '-', not starting or ending with '-'."
  }

  validation {
    # Two tables per tenant plus the registry must fit the default quota of
    # 2,500 tables per account and region; raise the quota first, then this limit.
    condition     = length(var.tenant_ids) * 2 + 1 <= 2500
    error_message = "At most 1,249 tenants fit the default 2,500-table DynamoDB quota (2 tables per tenant + registry)."
  }
}

variable "tenant_broker_principal_arns" {
  description = "IAM principals (the platform's broker) allowed to assume the tenant roles, with exactly one session tag TenantId=<id>."
  type        = list(string)

  validation {
    condition     = length(var.tenant_broker_principal_arns) >= 1 && alltrue([for arn in var.tenant_broker_principal_arns : can(regex("^arn:[a-z-]+:iam::[0-9]{12}:(role|user)/", arn))])
    error_message = "tenant_broker_principal_arns needs at least one IAM role or user ARN (arn:<partition>:iam::<account>:role/...)."
  }
}

variable "deletion_protection_enabled" {
  description = "Deletion protection on every table. null (default) means: on in production, off elsewhere."
  type        = bool
  default     = null
}

variable "messages_ttl_enabled" {
  description = "Enable DynamoDB TTL on attribute `ttl` of every messages table (off by default)."
  type        = bool
  default     = false
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the table encryption key is deleted once scheduled for deletion."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_in_days >= 7 && var.kms_deletion_window_in_days <= 30
    error_message = "kms_deletion_window_in_days must be between 7 and 30."
  }
}
