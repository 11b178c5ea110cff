terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x: deletion_protection_enabled and the ttl validation used below exist,
      # and 6.x changes data.aws_region attributes; bump deliberately, not by accident.
      version = ">= 5.60.0, < 6.0.0"
    }
  }
}
