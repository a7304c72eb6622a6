//! Plain Rust domain types. A value of one of these types is valid by construction.

pub mod batch;
pub mod changes;
pub mod cursor;
pub mod input;
pub mod invalid;
pub mod list_query;
pub mod schedule;
pub mod search;
pub mod tags;
pub mod task;
pub mod user;

pub use changes::{Change, ChangesQuery, SyncToken, TrashRetention, TrashedTask};
pub use cursor::{Binding, Cursor, CursorKey, Position, SortValue};
pub use input::{NewTask, TaskPatch};
pub use invalid::{FieldError, Invalid};
pub use list_query::{ListQuery, PriorityFilter, SortKey, SortOrder, StatusFilter};
pub use schedule::{Frequency, Interval, Recurrence, Series, TaskTimeZone};
pub use search::SearchQuery;
pub use tags::{Tag, TagSet};
pub use task::{Task, TaskDescription, TaskId, TaskPriority, TaskTitle};
pub use user::{AuthenticatedUser, Identity, PathUserId, UserSource};
