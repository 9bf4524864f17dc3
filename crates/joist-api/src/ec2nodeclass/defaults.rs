//! CRD defaults of the EC2NodeClass (upstream's `SetDefaults` does nothing; every default lives
//! in the CRD schema, which the API server applies before validation and storage).

use super::EC2NodeClass;
use super::launch::MetadataOptions;

/// Default `metadataOptions.httpEndpoint`.
pub const DEFAULT_HTTP_ENDPOINT: &str = "enabled";
/// Default `metadataOptions.httpProtocolIPv6`.
pub const DEFAULT_HTTP_PROTOCOL_IPV6: &str = "disabled";
/// Default `metadataOptions.httpPutResponseHopLimit`.
pub const DEFAULT_HTTP_PUT_RESPONSE_HOP_LIMIT: i64 = 1;
/// Default `metadataOptions.httpTokens`.
pub const DEFAULT_HTTP_TOKENS: &str = "required";
/// Default `status.capacityReservations[].reservationType`.
pub const DEFAULT_RESERVATION_TYPE: &str = "default";
/// Default `status.capacityReservations[].state`.
pub const DEFAULT_RESERVATION_STATE: &str = "active";

impl EC2NodeClass {
    /// This object as the API server stores it: absent `metadataOptions` becomes
    /// `{httpEndpoint: enabled, httpProtocolIPv6: disabled, httpPutResponseHopLimit: 1,
    /// httpTokens: required}`, absent members of a given `metadataOptions` get those values, and
    /// status capacity reservations get `reservationType: default` and `state: active`.
    /// Values the user set are never changed.
    #[must_use]
    pub fn with_defaults(mut self) -> Self {
        self.apply_defaults();
        self
    }

    /// In-place form of [`EC2NodeClass::with_defaults`].
    pub fn apply_defaults(&mut self) {
        let options = self
            .spec
            .metadata_options
            .get_or_insert_with(MetadataOptions::default);
        options
            .http_endpoint
            .get_or_insert_with(|| DEFAULT_HTTP_ENDPOINT.to_owned());
        options
            .http_protocol_ipv6
            .get_or_insert_with(|| DEFAULT_HTTP_PROTOCOL_IPV6.to_owned());
        options
            .http_put_response_hop_limit
            .get_or_insert(DEFAULT_HTTP_PUT_RESPONSE_HOP_LIMIT);
        options
            .http_tokens
            .get_or_insert_with(|| DEFAULT_HTTP_TOKENS.to_owned());

        let reservations = self
            .status
            .as_mut()
            .and_then(|status| status.capacity_reservations.as_mut());
        for reservation in reservations.into_iter().flatten() {
            reservation
                .reservation_type
                .get_or_insert_with(|| DEFAULT_RESERVATION_TYPE.to_owned());
            reservation
                .state
                .get_or_insert_with(|| DEFAULT_RESERVATION_STATE.to_owned());
        }
    }
}
