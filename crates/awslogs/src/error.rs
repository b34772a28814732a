//! The one error type of the crate.

/// What stopped a read of audit logs from AWS. Every message names what was being read (the
/// log group and stream, or the bucket and key) and, for an answer of AWS, its error code and
/// the IAM action the call needs. No message carries a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    /// No region was given or configured.
    #[error(
        "no AWS region for {what}: pass --region, or set AWS_REGION or a region in the profile of ~/.aws/config"
    )]
    NoRegion {
        /// What was to be read.
        what: String,
    },
    /// An option value that cannot be used.
    #[error("invalid {option} {value:?}: {why}")]
    InvalidOption {
        /// The option or variable, such as `--endpoint-url` or `AWS_ENDPOINT_URL_S3`.
        option: String,
        /// The value as given.
        value: String,
        /// Why it was rejected.
        why: String,
    },
    /// The credentials could not be found or fetched.
    #[error("{what}: {source}")]
    Credentials {
        /// What was to be read.
        what: String,
        /// Why.
        source: apilens_sigv4::Error,
    },
    /// AWS answered with an error.
    #[error("{what}: {action} failed: {code}: {message} (HTTP {status}){hint}")]
    Api {
        /// What was being read: `cloudwatch logs group G stream S`, `s3 bucket B key K`.
        what: String,
        /// The IAM action of the call, such as `logs:FilterLogEvents` or `s3:GetObject`.
        action: &'static str,
        /// The AWS error code, such as `AccessDeniedException` or `NoSuchBucket`.
        code: String,
        /// AWS's message, shortened.
        message: String,
        /// The HTTP status.
        status: u16,
        /// What to do about it, starting with `; `, or empty.
        hint: String,
    },
    /// The endpoint could not be reached (after the retries).
    #[error("{what}: {action} failed: cannot reach {endpoint}: {cause}")]
    Unreachable {
        /// What was being read.
        what: String,
        /// The IAM action of the call.
        action: &'static str,
        /// The endpoint's base URL.
        endpoint: String,
        /// The innermost cause.
        cause: String,
    },
    /// An answer that is not what the API returns.
    #[error("{what}: {action}: unexpected answer from {endpoint}: {why}")]
    BadResponse {
        /// What was being read.
        what: String,
        /// The IAM action of the call.
        action: &'static str,
        /// The endpoint's base URL.
        endpoint: String,
        /// What was wrong with it.
        why: String,
    },
}

impl AwsError {
    /// The AWS error code of an [`AwsError::Api`].
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Error codes of credentials that AWS does not accept.
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "RequestExpired",
];

/// What to do about an error code, as `; ...`, or empty.
pub(crate) fn hint(code: &str, action: &str) -> String {
    if code.starts_with("AccessDenied") || code == "UnauthorizedOperation" || code == "Forbidden" {
        format!("; the credentials need the IAM permission {action} on it")
    } else if CREDENTIAL_CODES.contains(&code) {
        "; AWS does not accept these credentials: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the role of the pod (IRSA, Pod Identity), and that the system clock is right".to_owned()
    } else {
        String::new()
    }
}
