//! An answer's JSON read as a stream, `{"status", "error", "data":
//! {"resultType", "result": [...]}}`: each element of `result` is handed on
//! as soon as it is read, so a 100 MB answer never sits in memory.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Labels, Sink, READ};

impl<'de> DeserializeSeed<'de> for Sink<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Sink<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "status" => self.answer.status = map.next_value()?,
                "error" => self.answer.error = map.next_value()?,
                "data" => map.next_value_seed(Data(&mut self))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `data`: its `resultType`, and `result` handed on.
struct Data<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for Data<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Data<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "resultType" => self.0.answer.result_type = Some(map.next_value()?),
                // Prometheus says the type first; another type's result is
                // not read as samples.
                "result"
                    if self.0.answer.result_type.as_deref().unwrap_or("vector") == "vector" =>
                {
                    map.next_value_seed(Samples(&mut *self.0))?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `result`: a vector's samples, one at a time.
struct Samples<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for Samples<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Samples<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of samples")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(Item { labels, value }) = seq.next_element()? {
            // A value that is no number (none Prometheus writes) is passed over.
            let Some(value) = value else {
                continue;
            };
            if (self.0.stopped)() || !(self.0.each)((labels, value)) {
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// `{"metric": {...}, "value": [time, "value"]}`.
struct Item {
    labels: Labels,
    value: Option<f64>,
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Item, D::Error> {
        deserializer.deserialize_map(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sample")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut item = Item {
            labels: Labels::default(),
            value: None,
        };
        let mut valued = false;
        while let Some(field) = map.next_key_seed(OneOf(&["metric", "value"]))? {
            match field {
                Some(0) => map.next_value_seed(LabelsSeed(&mut item.labels))?,
                Some(_) => {
                    item.value = map.next_value_seed(PointSeed)?;
                    valued = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match valued {
            true => Ok(item),
            false => Err(de::Error::missing_field("value")),
        }
    }
}

/// `"metric"`: the labels the graph reads, copied straight from the
/// parser's buffer into one string.
struct LabelsSeed<'s>(&'s mut Labels);

impl<'de> DeserializeSeed<'de> for LabelsSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LabelsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("labels")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(read) = map.next_key_seed(OneOf(&READ))? {
            match read {
                Some(i) => map.next_value_seed(LabelValue(&mut *self.0, i))?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A name, read without a copy: which of these it is, if one.
struct OneOf(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for OneOf {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for OneOf {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|known| *known == name))
    }
}

/// A label's value, appended to the sample's labels as label `.1`.
struct LabelValue<'s>(&'s mut Labels, usize);

impl<'de> DeserializeSeed<'de> for LabelValue<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for LabelValue<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a label value")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.0.set(self.1, value);
        Ok(())
    }
}

/// `[time, "value"]`: the value, if it is a number.
struct PointSeed;

impl<'de> DeserializeSeed<'de> for PointSeed {
    type Value = Option<f64>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<f64>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PointSeed {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("[time, value]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<f64>, A::Error> {
        seq.next_element::<IgnoredAny>()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value =
            (seq.next_element::<Number>()?).ok_or_else(|| de::Error::invalid_length(1, &self))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(value.0)
    }
}

/// A value as Prometheus writes it, a string, parsed without a copy.
struct Number(Option<f64>);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Number, D::Error> {
        deserializer.deserialize_str(NumberVisitor)
    }
}

struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number in a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Number, E> {
        Ok(Number(value.parse().ok()))
    }
}
