//! The app's components, one file each.

mod app;
mod class_list;
mod countdown;

pub use app::App;
