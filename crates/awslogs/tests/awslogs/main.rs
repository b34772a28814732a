//! The AWS readers against a real AWS API emulator (moto in server mode): CloudWatch Logs
//! streams as EKS writes them, S3 exports and Firehose deliveries made by moto itself, and
//! faults moto does not make (throttling, broken connections) from a proxy in front of it.

mod cloudwatch;
mod faults;
mod s3;
mod support;
