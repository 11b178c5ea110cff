output "registry_table_name" {
  description = "Name of the global tenant registry table."
  value       = aws_dynamodb_table.tenants_metadata.name
}

output "registry_table_arn" {
  description = "ARN of the global tenant registry table."
  value       = aws_dynamodb_table.tenants_metadata.arn
}

output "tenant_tables" {
  description = "Per tenant id: the names and ARNs of its messages and metrics tables (its IAM is the shared set in iam.tf)."
  value = {
    for id, tables in module.tenant_tables : id => {
      messages_table_name = tables.messages_table_name
      messages_table_arn  = tables.messages_table_arn
      metrics_table_name  = tables.metrics_table_name
      metrics_table_arn   = tables.metrics_table_arn
    }
  }
}

output "kms_key_arn" {
  description = "ARN of the customer-managed key that encrypts every table."
  value       = aws_kms_key.dynamodb.arn
}
