//! Reshaping: the samples a rule selects become one family of planet's,
//! with labels renamed, kept, set or derived from another source.

use std::collections::{BTreeMap, HashSet};

use super::{Rule, Rules, Selector};
use crate::exposition::parse::NamedSample;
use crate::exposition::{Exposition, Family};
use crate::schema::WRAP_UP;

impl Selector {
    fn matches<'a>(
        &'a self,
        exposition: &'a Exposition,
    ) -> impl Iterator<Item = &'a NamedSample> + 'a {
        exposition.samples.iter().filter(move |s| {
            s.name == self.metric
                && self
                    .filter
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
    }
}

impl Rules {
    /// `planet_wrap_up` and every rule's family whose sources answered.
    pub fn apply(&self, pages: &BTreeMap<String, Result<Exposition, String>>) -> Vec<Family> {
        let mut up = WRAP_UP.family();
        for source in &self.sources {
            let ok = matches!(pages.get(&source.name), Some(Ok(_)));
            up.push([source.name.as_str()], f64::from(u8::from(ok)));
        }
        let mut families = vec![up.done()];
        families.extend(self.rules.iter().filter_map(|rule| rule.apply(pages)));
        families
    }

    /// Warnings worth an operator's eye, by line of the rules file: each
    /// source that is down and why.
    pub fn down(&self, pages: &BTreeMap<String, Result<Exposition, String>>) -> Vec<String> {
        self.sources
            .iter()
            .filter_map(|source| match pages.get(&source.name) {
                Some(Err(why)) => Some(format!(
                    "wrap source at line {} is down: {why}",
                    source.line
                )),
                _ => None,
            })
            .collect()
    }

    /// As [`Rules::down`], and each rule whose source answered but which
    /// selected nothing (a misspelled metric name, say).
    pub fn problems(&self, pages: &BTreeMap<String, Result<Exposition, String>>) -> Vec<String> {
        let mut problems = self.down(pages);
        for rule in &self.rules {
            if let Some(Ok(page)) = pages.get(&rule.select.source) {
                if rule.select.matches(page).next().is_none() {
                    problems.push(format!(
                        "wrap rule at line {}: select matches no sample of its source",
                        rule.line
                    ));
                }
            }
        }
        problems
    }
}

impl Rule {
    /// The rule's family; None when a source it reads is down.
    fn apply(&self, pages: &BTreeMap<String, Result<Exposition, String>>) -> Option<Family> {
        let page = |name: &str| pages.get(name).and_then(|p| p.as_ref().ok());
        let main = page(&self.select.source)?;
        let mut derived: Vec<(&str, String)> = Vec::new();
        for (out, (selector, label)) in &self.derive {
            let value = selector
                .matches(page(&selector.source)?)
                .find_map(|s| {
                    s.labels
                        .iter()
                        .find(|(k, _)| k == label)
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or_default();
            derived.push((out, value));
        }
        let mut family = Family::new(self.metric.clone(), self.kind, self.help.clone());
        let mut seen = HashSet::new();
        for sample in self.select.matches(main) {
            let mut labels: Vec<(&str, String)> = Vec::new();
            for (out, input) in &self.labels {
                let value = sample
                    .labels
                    .iter()
                    .find(|(k, _)| k == input)
                    .map(|(_, v)| v.clone());
                labels.push((out, value.unwrap_or_default()));
            }
            labels.extend(self.set.iter().map(|(k, v)| (k.as_str(), v.clone())));
            labels.extend(derived.iter().cloned());
            labels.sort();
            // Dropping labels can make two samples one: the first is kept.
            if !seen.insert(labels.clone()) {
                continue;
            }
            family.push(
                labels.iter().map(|(k, v)| (*k, v.as_str())),
                self.value.unwrap_or(sample.value),
            );
        }
        Some(family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::render;
    use crate::wrap::EXAMPLE_RULES as RULES;

    fn pages(list: &[(&str, &str)]) -> BTreeMap<String, Result<Exposition, String>> {
        list.iter()
            .map(|(name, text)| (name.to_string(), crate::exposition::parse(text)))
            .collect()
    }

    #[test]
    fn reshapes_the_seed_example() {
        let rules = Rules::parse(RULES).unwrap();
        let mut families = rules.apply(&pages(&[
            (
                "postgres",
                "pg_static{server=\"db:5432\",short_version=\"11.5.0\",version=\"PostgreSQL 11.5\"} 1\n\
                 pg_stat_database_numbackends{datname=\"app\"} 7\n\
                 pg_stat_database_numbackends{datname=\"postgres\"} 1\n",
            ),
            ("latest", "postgres_latest_version{version=\"12.1.0\"} 1\n"),
        ]));
        assert_eq!(
            render(&mut families),
            "\
# HELP planet_postgres_app_backends pg_stat_database_numbackends from source postgres, by rule connections.
# TYPE planet_postgres_app_backends gauge
planet_postgres_app_backends{datname=\"app\",team=\"db\"} 7
# HELP planet_postgres_version_update pg_static from source postgres, by rule postgres_version_update.
# TYPE planet_postgres_version_update gauge
planet_postgres_version_update{current=\"11.5.0\",latest=\"12.1.0\"} 1
# HELP planet_wrap_up 1 if the wrapped source answered with a page planet could parse, else 0.
# TYPE planet_wrap_up gauge
planet_wrap_up{source=\"latest\"} 1
planet_wrap_up{source=\"postgres\"} 1
"
        );
    }

    #[test]
    fn a_source_that_is_down_drops_only_its_rules() {
        let rules = Rules::parse(RULES).unwrap();
        let mut down = pages(&[(
            "postgres",
            "pg_stat_database_numbackends{datname=\"app\"} 7\n",
        )]);
        down.insert("latest".into(), Err("connection refused".into()));
        let names: Vec<String> = rules
            .apply(&down)
            .into_iter()
            .filter(|f| !f.samples.is_empty())
            .map(|f| f.name)
            .collect();
        assert_eq!(names, [WRAP_UP.name, "planet_postgres_app_backends"]);
    }
}
