//! What a diagnosis is worth to its caller: an audit log read in part, or not at all, is no
//! diagnosis, whatever the findings.

use crate::diagnose::Diagnosis;

impl Diagnosis {
    /// Why the diagnosis covers less than the audit log it was given, one message each: every
    /// input that failed part-way and then that the result is partial, or that no event could be
    /// read. Empty when the audit log was read whole, or when none was given.
    pub fn read_failures(&self) -> Vec<String> {
        let Some(audit) = &self.inputs.audit else {
            return Vec::new();
        };
        if !audit.read_errors.is_empty() {
            let mut out = audit.read_errors.clone();
            out.push(
                "the diagnosis covers only what was read before the errors above (a partial result)"
                    .to_owned(),
            );
            return out;
        }
        if audit.requests == 0 {
            return vec![format!(
                "no audit event could be read from {} ({} malformed lines): nothing was diagnosed",
                audit.files.join(", "),
                audit.malformed
            )];
        }
        Vec::new()
    }
}
