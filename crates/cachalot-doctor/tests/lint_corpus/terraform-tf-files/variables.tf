variable "domain_name" {
  description = "Public name of the site"
  type        = string
  default     = "docs.example.dev"
}

variable "certificate_arn" {
  description = "ACM certificate in us-east-1"
  type        = string
}

variable "price_class" {
  type    = string
  default = "PriceClass_100"
}
