//! Notifications sent by the controller itself: configuration from the `lockstep-notifications`
//! ConfigMap and Secret ([`config`]), which triggers fire and which resolve with once-only
//! bookkeeping ([`trigger`]), message templates ([`template`]), each chat service's documented
//! request ([`service`]), asynchronous delivery with retries and a bounded queue ([`deliver`]), and
//! the loop that watches Applications and records each notice before it is sent ([`notifier`]).
//!
//! Everything but [`deliver`] and [`notifier`] is pure.

pub mod compose;
pub mod config;
pub mod deliver;
pub mod notifier;
pub mod service;
pub mod template;
pub mod trigger;

pub use compose::{Composed, compose};
pub use config::{ConfigError, NotifyConfig, Service, Subscription};
pub use deliver::{Delivery, Outbox};
pub use service::HttpRequest;
pub use template::Message;
pub use trigger::{Notice, NoticeState, Record, Trigger, plan};
