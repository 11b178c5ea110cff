locals {
  # Production tables must not be deletable by a stray `terraform destroy`;
  # other environments may override either way.
  deletion_protection_enabled = var.deletion_protection_enabled != null ? var.deletion_protection_enabled : var.environment == "production"
}
