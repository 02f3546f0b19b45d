//! Phoenix channel frames, in both wire versions of the Supabase Realtime serializer.
//!
//! vsn 2.0.0 (the default) sends `[join_ref, ref, topic, event, payload]` arrays; vsn 1.0.0
//! sends objects. Decoding accepts either shape whatever was negotiated, and anything that
//! is not a frame is `None` (logged and ignored by the caller, never fatal).

use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vsn {
    V1,
    V2,
}

impl Vsn {
    pub fn as_str(self) -> &'static str {
        match self {
            Vsn::V1 => "1.0.0",
            Vsn::V2 => "2.0.0",
        }
    }

    /// `DCD_REALTIME_VSN=1.0.0` selects the old framing (tests); anything else is 2.0.0.
    pub fn from_env() -> Vsn {
        match std::env::var("DCD_REALTIME_VSN").as_deref() {
            Ok("1.0.0") | Ok("1") => Vsn::V1,
            _ => Vsn::V2,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub join_ref: Option<String>,
    pub ref_: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

impl Frame {
    pub fn encode(&self, vsn: Vsn) -> String {
        match vsn {
            Vsn::V2 => json!([
                self.join_ref,
                self.ref_,
                self.topic,
                self.event,
                self.payload
            ])
            .to_string(),
            Vsn::V1 => {
                let mut o = Map::new();
                o.insert("topic".into(), self.topic.clone().into());
                o.insert("event".into(), self.event.clone().into());
                o.insert("payload".into(), self.payload.clone());
                o.insert("ref".into(), json!(self.ref_));
                if let Some(j) = &self.join_ref {
                    o.insert("join_ref".into(), j.clone().into());
                }
                Value::Object(o).to_string()
            }
        }
    }

    pub fn decode(text: &str) -> Option<Frame> {
        let v: Value = serde_json::from_str(text).ok()?;
        let opt = |v: Option<&Value>| match v {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match &v {
            Value::Array(a) if a.len() >= 5 => Some(Frame {
                join_ref: opt(a.first()),
                ref_: opt(a.get(1)),
                topic: a[2].as_str()?.to_string(),
                event: a[3].as_str()?.to_string(),
                payload: a[4].clone(),
            }),
            Value::Object(o) => Some(Frame {
                join_ref: opt(o.get("join_ref")),
                ref_: opt(o.get("ref")),
                topic: o.get("topic")?.as_str()?.to_string(),
                event: o.get("event")?.as_str()?.to_string(),
                payload: o.get("payload").cloned().unwrap_or(Value::Null),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_versions() {
        let f = Frame {
            join_ref: Some("6".into()),
            ref_: Some("6".into()),
            topic: "realtime:x".into(),
            event: "phx_join".into(),
            payload: json!({"a": 1}),
        };
        assert_eq!(
            f.encode(Vsn::V2),
            r#"["6","6","realtime:x","phx_join",{"a":1}]"#
        );
        assert_eq!(
            f.encode(Vsn::V1),
            r#"{"topic":"realtime:x","event":"phx_join","payload":{"a":1},"ref":"6","join_ref":"6"}"#
        );
        for v in [Vsn::V1, Vsn::V2] {
            assert_eq!(Frame::decode(&f.encode(v)), Some(f.clone()));
        }
    }

    #[test]
    fn decodes_server_frames_and_rejects_garbage() {
        let f =
            Frame::decode(r#"[null,null,"realtime:x","postgres_changes",{"ids":[1]}]"#).unwrap();
        assert_eq!((f.join_ref, f.ref_), (None, None));
        let f = Frame::decode(r#"{"topic":"phoenix","event":"phx_reply","payload":{},"ref":"8"}"#)
            .unwrap();
        assert_eq!(f.ref_.as_deref(), Some("8"));
        for bad in [
            "",
            "[]",
            "[1,2,3,4]",
            r#"[null,null,1,"e",{}]"#,
            "{\"topic\":1}",
            "nope",
            "42",
        ] {
            assert_eq!(Frame::decode(bad), None, "{bad}");
        }
    }
}
