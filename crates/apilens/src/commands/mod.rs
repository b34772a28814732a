//! One module per command: its `Args` and its `run`.

pub(crate) mod apf;
pub(crate) mod audit;
pub(crate) mod dashboard;
pub(crate) mod demo;
pub(crate) mod doctor;
pub(crate) mod grafana;
pub(crate) mod inspect;
pub(crate) mod query;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod serve;
pub(crate) mod sim;
pub(crate) mod top;
pub(crate) mod tsdb;
