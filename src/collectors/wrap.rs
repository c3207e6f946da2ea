//! Other local exporters, reshaped by the `--wrap` rules file.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::collector::{Collector, Input, Needs};
use crate::error::Error;
use crate::exposition::Family;
use crate::schema::{Declared, WRAP_UP};
use crate::wrap::Rules;

#[derive(Debug, Default, clap::Args)]
pub struct Wrap {
    /// Scrape other local exporters and reshape their metrics by the rules in
    /// this TOML file (see `planet wrap check`).
    #[arg(long, value_name = "FILE")]
    pub wrap: Option<PathBuf>,

    #[arg(skip)]
    rules: Option<Rules>,

    #[arg(skip)]
    down: Vec<String>,
}

impl Wrap {
    /// Loads a rules file, refusing rules that take a reserved name.
    pub fn load(path: PathBuf, reserved: &BTreeSet<String>) -> Result<Wrap, Error> {
        let rules = Rules::load(&path)?;
        rules
            .refuse_reserved(|metric| reserved.contains(metric))
            .map_err(|e| Error::config(&path, e))?;
        Ok(Wrap {
            wrap: Some(path),
            rules: Some(rules),
            down: Vec::new(),
        })
    }

    pub fn rules(&self) -> Option<&Rules> {
        self.rules.as_ref()
    }
}

impl Collector for Wrap {
    fn needs(&self) -> Needs {
        Needs::Nothing
    }

    fn families(&self) -> Vec<Declared> {
        vec![WRAP_UP.declared()]
    }

    fn named_at_run_time(&self) -> Vec<String> {
        let rules = self.rules.iter().flat_map(|r| &r.rules);
        rules.map(|rule| rule.metric.clone()).collect()
    }

    /// Nothing to do without `--wrap`.
    fn prepare(&mut self, reserved: &BTreeSet<String>) -> Result<bool, Error> {
        let Some(path) = self.wrap.take() else {
            return Ok(false);
        };
        *self = Wrap::load(path, reserved)?;
        Ok(true)
    }

    /// A source that is down is `planet_wrap_up{source} 0`, not a failure of
    /// the collector: the other sources' rules still write.
    fn collect(&mut self, _: &Input) -> Result<Vec<Family>, Error> {
        let Some(rules) = &self.rules else {
            return Ok(Vec::new());
        };
        let pages = rules.fetch_all();
        self.down = rules.down(&pages);
        Ok(rules.apply(&pages))
    }

    fn warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.down)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_may_not_take_a_family_planet_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wrap.toml");
        let rule = "\n[[rule]]\nname = \"bad\"\nsource = \"postgres\"\nselect = \"x\"\nmetric = \"planet_serving\"\n";
        std::fs::write(&path, format!("{}{rule}", crate::wrap::EXAMPLE_RULES)).unwrap();
        let Err(e) = Wrap::load(path.clone(), &super::super::reserved()) else {
            panic!("a reserved name was taken");
        };
        // EXAMPLE_RULES has 26 line feeds; the bad rule's header is on line 28.
        assert_eq!(
            e.to_string(),
            format!(
                "{}: rule at line 28: metric planet_serving is one of planet's own",
                path.display()
            )
        );
    }
}
