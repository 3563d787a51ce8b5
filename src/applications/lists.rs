//! What an application chooses from: the centres that take doctors and the open positions
//! (published, with an open centre), read once for the form, its checks and its e-mails.

use diesel::prelude::*;

use crate::centres::{self, Centre};
use crate::positions::{self, PublishedPosition};

/// The centres and published positions an application may choose from.
pub struct FormLists {
    pub centres: Vec<Centre>,
    pub positions: Vec<PublishedPosition>,
}

pub fn load_lists(conn: &mut PgConnection) -> QueryResult<FormLists> {
    Ok(FormLists {
        centres: centres::list_choosable(conn)?,
        positions: positions::open::list_open_summaries(conn, crate::domain::paris_today())?,
    })
}
