//! The Actions results service (the Twirp API behind `@actions/artifact`), as both the
//! artifact destination (upload) and `stevedore download` use it: the client with the
//! official retry policy, the backend IDs read from the runtime token, and the messages
//! both directions send (listing, signed download URLs). Upload-only messages stay in
//! `upload::artifact`.

pub(crate) mod messages;
pub(crate) mod token;
pub(crate) mod twirp;
