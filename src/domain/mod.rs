//! Plain Rust domain types. A value of one of these types is valid by construction.

pub mod input;
pub mod list_query;
pub mod task;

pub use input::{NewTask, TaskPatch};
pub use list_query::{ListQuery, SortKey, SortOrder, StatusFilter};
pub use task::{Task, TaskDescription, TaskId, TaskTitle};
