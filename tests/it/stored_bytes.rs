//! What one `/tradeoff start` stores, in bytes: the conversation and its queued messages,
//! as the store keeps them. The outbox holds neutral effects rendered when sent, so a start
//! stays small on both platforms; these bounds catch a return to queuing rendered messages
//! (Block Kit or Discord JSON, kilobytes each).

use crate::discord_support;
use crate::slack_support;

use tradeoff::core::ids::Platform;
use tradeoff::store::Store;

/// The bytes of every queued entry of `platform` and of every conversation in `channel`.
fn stored(store: &dyn Store, platform: Platform, workspace: &str, channel: &str) -> (usize, usize) {
    let outbox: usize = store
        .outbox_pending(platform)
        .unwrap()
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap().len())
        .sum();
    let conversations: usize = store
        .conversations_in_channel(
            platform,
            &tradeoff::core::ids::WorkspaceId::new(workspace),
            &tradeoff::core::ids::ChannelId::new(channel),
        )
        .unwrap()
        .iter()
        .map(|(_, c)| serde_json::to_vec(c).unwrap().len())
        .sum();
    (outbox, conversations)
}

#[tokio::test]
async fn a_start_stores_under_two_kilobytes_on_slack_and_on_discord() {
    let dir = tempfile::tempdir().unwrap();
    let stand_in = slack_support::StandIn::start().await;
    let h =
        slack_support::Harness::start(dir.path(), &stand_in, slack_support::TestClock::new()).await;
    h.command("start", "U0LEAD").await;
    let form = slack_support::fixture("slash_command.json");
    let slack = stored(
        h.app.store.as_ref(),
        Platform::Slack,
        form["team_id"].as_str().unwrap(),
        form["channel_id"].as_str().unwrap(),
    );

    let discord_stand_in = discord_support::StandIn::start().await;
    let bot = discord_support::TestBot::start(&discord_stand_in).await;
    bot.interact(&discord_support::fixture("command_start"))
        .await;
    let discord = stored(
        bot.store.as_ref(),
        Platform::Discord,
        discord_support::GUILD,
        discord_support::CHANNEL,
    );

    println!(
        "bytes stored per start: Slack {} (outbox {}, conversation {}), Discord {} (outbox {}, conversation {})",
        slack.0 + slack.1,
        slack.0,
        slack.1,
        discord.0 + discord.1,
        discord.0,
        discord.1
    );
    assert!(slack.1 > 0 && discord.1 > 0, "the conversations are stored");
    assert!(slack.0 + slack.1 < 2048, "Slack: {slack:?}");
    assert!(discord.0 + discord.1 < 2048, "Discord: {discord:?}");
}
