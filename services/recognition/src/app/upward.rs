//! At the city: a district's star ratings, team star ratings, honours, commendations and
//! certificates, pushed up its link, written as read-only copies (their origin stays the
//! district's) and recorded in the city's own change log, so that the city's lists,
//! statistics and certificate checks take them in like any change.
//!
//! Rule sets and the points ledger stay at the district (see `egret_sync::push`); a batch
//! that carries them is refused.

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::record::Kind;
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_sync::follower::record;
use egret_sync::upward::{
    District, RecordApplier, not_taken, not_yet, require_within, serde_form, write_copy,
    write_copy_within,
};
use futures::future::BoxFuture;

use crate::domain::certificate::Certificate;
use crate::domain::commendation::{Commendation, Honour};
use crate::domain::names;
use crate::domain::stars::{StarRating, TeamStarRating};
use crate::store;

egret_sync::copied_record! {
    StarRating: "egret.recognition.v1.StarRating", |rating| names::star_rating(&rating.id),
        held: |connection, rating| store::stars::get(connection, &rating.id),
        put: store::stars::put_copy;
    TeamStarRating: "egret.recognition.v1.TeamStarRating",
        |rating| names::team_star_rating(&rating.id),
        held: |connection, rating| store::team_stars::get(connection, &rating.id),
        put: store::team_stars::put_copy;
    Honour: "egret.recognition.v1.Honour", |honour| names::honour(&honour.id),
        held: |connection, honour| store::commendations::honour(connection, &honour.id),
        put: store::commendations::put_copy_honour;
    Commendation: "egret.recognition.v1.Commendation",
        |commendation| names::commendation(&commendation.id),
        held: |connection, commendation| store::commendations::get(connection, &commendation.id),
        put: store::commendations::put_copy;
    Certificate: "egret.recognition.v1.Certificate",
        |certificate| names::certificate(&certificate.id),
        held: |connection, certificate| store::certificates::get(connection, &certificate.id),
        put: store::certificates::put_copy;
}

/// Applies a district's recognition records.
pub struct RecognitionApplier;

impl RecordApplier for RecognitionApplier {
    fn tallied(&self) -> egret_sync::tally::Tallied {
        &[
            ("egret.recognition.v1.StarRating", "star_ratings"),
            ("egret.recognition.v1.TeamStarRating", "team_star_ratings"),
            ("egret.recognition.v1.Honour", "honours"),
            ("egret.recognition.v1.Commendation", "commendations"),
            ("egret.recognition.v1.Certificate", "certificates"),
        ]
    }

    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        district: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let name = &change.resource_name;
            match record(change)? {
                Kind::StarRating(_) => {
                    write_copy_within(transaction, district, change, |copy: &StarRating| {
                        &copy.nominating_org_unit_id
                    })
                    .await
                }
                Kind::TeamStarRating(_) => {
                    write_copy_within(transaction, district, change, |copy: &TeamStarRating| {
                        &copy.org_unit_id
                    })
                    .await
                }
                Kind::Honour(_) => {
                    write_copy_within(transaction, district, change, |copy: &Honour| {
                        &copy.org_unit_id
                    })
                    .await
                }
                Kind::Commendation(_) => {
                    let copy: Commendation = serde_form(change)?;
                    require_within(transaction, district, &copy.nominating_org_unit_id, name)
                        .await?;
                    // The honour is the district's own (pushed before it) or the city's.
                    if store::commendations::honour(transaction.conn(), &copy.honour_id)
                        .await?
                        .is_none()
                    {
                        return Err(not_yet(name, &names::honour(&copy.honour_id)));
                    }
                    write_copy(transaction, district, change, copy).await
                }
                Kind::Certificate(_) => {
                    write_copy_within(transaction, district, change, |copy: &Certificate| {
                        &copy.issuer_org_unit_id
                    })
                    .await
                }
                _ => Err(not_taken(change)),
            }
        })
    }
}
