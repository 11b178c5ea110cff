output "tenant_id" {
  description = "The tenant these tables belong to."
  value       = var.tenant_id
}

output "messages_table_name" {
  description = "Name of the tenant's messages table."
  value       = aws_dynamodb_table.messages.name
}

output "messages_table_arn" {
  description = "ARN of the tenant's messages table."
  value       = aws_dynamodb_table.messages.arn
}

output "metrics_table_name" {
  description = "Name of the tenant's metrics table."
  value       = aws_dynamodb_table.metrics.name
}

output "metrics_table_arn" {
  description = "ARN of the tenant's metrics table."
  value       = aws_dynamodb_table.metrics.arn
}
