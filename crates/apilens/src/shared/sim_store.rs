//! The simulator's scenario as the commands that run it in-process name it (`demo`).

use anyhow::bail;
use apilens_sim::SCENARIOS;

/// Refuses a scenario the simulator does not have, listing those it has.
pub(crate) fn known_scenario(name: &str) -> anyhow::Result<()> {
    if !SCENARIOS.iter().any(|s| s.name == name) {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        bail!(
            "unknown scenario {name:?}: choose one of {}",
            names.join(", ")
        );
    }
    Ok(())
}
