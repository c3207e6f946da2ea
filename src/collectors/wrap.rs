//! Other local exporters, reshaped by the `--wrap` rules file.

use super::Collector;
use crate::exposition::Family;
use crate::snapshot::Snapshot;
use crate::wrap::Rules;

pub struct Wrap {
    pub rules: Rules,
}

impl Collector for Wrap {
    fn name(&self) -> &'static str {
        "wrap"
    }

    fn needs_sockets(&self) -> bool {
        false
    }

    /// A source that is down is `planet_wrap_up{source} 0`, not a failure of
    /// the collector: the other sources' rules still write.
    fn collect(&mut self, _: &Snapshot) -> Result<Vec<Family>, String> {
        Ok(self.rules.apply(&self.rules.fetch_all()))
    }
}
