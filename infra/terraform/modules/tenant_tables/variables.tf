variable "tenant_id" {
  description = "The tenant whose tables this instance creates; validated before it is put into a table name."
  type        = string

  validation {
    condition     = length(var.tenant_id) >= 1 && length(var.tenant_id) <= 64 && can(regex("^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", var.tenant_id))
    error_message = "tenant_id must be 1-64 characters of lowercase letters, digits and '-', not starting or ending with '-'."
  }
}

variable "environment" {
  description = "Deployment environment; becomes the Environment tag."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be one of: dev, staging, production."
  }
}

variable "table_prefix" {
  description = "Optional prefix put in front of both table names."
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

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts both tables."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be the ARN of a KMS key (customer-managed), not an alias or key id."
  }
}

variable "deletion_protection_enabled" {
  description = "Deletion protection on both tables (the root module turns it on in production)."
  type        = bool
  default     = false
}

variable "messages_ttl_enabled" {
  description = "Enable DynamoDB TTL on attribute `ttl` of the messages table."
  type        = bool
  default     = false
}
