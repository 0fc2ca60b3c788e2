//! The six racing classes.

use serde::{Deserialize, Serialize};

/// A class id, 1 to 6.
pub type ClassId = u8;

/// A racing class: racers compete against others of the same class only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Class {
    /// The class id, 1 to 6.
    pub id: ClassId,
    /// A short display name.
    pub name: &'static str,
    /// One sentence about who rides in it.
    pub tagline: &'static str,
}

/// Every class, in id order.
pub const CLASSES: [Class; 6] = [
    Class { id: 1, name: "Fixie", tagline: "One gear, no excuses." },
    Class { id: 2, name: "Courier", tagline: "Steady legs, long days." },
    Class { id: 3, name: "Gravel", tagline: "Grit for the rough stuff." },
    Class { id: 4, name: "Tempo", tagline: "Hold the line, hold the pace." },
    Class { id: 5, name: "Climber", tagline: "Big resistance, bigger hearts." },
    Class { id: 6, name: "Sprinter", tagline: "Spin it up and let it fly." },
];

impl Class {
    /// The class with this id, if there is one.
    pub fn by_id(id: ClassId) -> Option<&'static Class> {
        CLASSES.iter().find(|class| class.id == id)
    }

    /// Whether `id` names one of the six classes.
    pub fn is_valid_id(id: i64) -> bool {
        (1..=CLASSES.len() as i64).contains(&id)
    }

    /// `raw` as a class id, when it names one of the six classes (the one check every reader
    /// of a class id from outside uses: query strings, file names, command lines).
    pub fn checked_id(raw: i64) -> Option<ClassId> {
        Self::is_valid_id(raw).then_some(raw as ClassId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_six_classes_numbered_one_to_six_with_distinct_names() {
        let ids: Vec<_> = CLASSES.iter().map(|c| c.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
        let mut names: Vec<_> = CLASSES.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 6);
    }

    #[test]
    fn by_id_finds_each_class_and_nothing_else() {
        assert_eq!(Class::by_id(3).map(|c| c.name), Some("Gravel"));
        assert!(Class::by_id(0).is_none());
        assert!(Class::by_id(7).is_none());
        assert!(Class::is_valid_id(6) && !Class::is_valid_id(7) && !Class::is_valid_id(0));
    }
}
