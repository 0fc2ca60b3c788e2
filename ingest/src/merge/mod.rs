//! The merge stage: folds each delivered batch into per-class personal-best history files and
//! race results. (Built in issue 4.)
