// @generated automatically by Diesel CLI.

diesel::table! {
    applications (id) {
        id -> Int8,
        candidate_id -> Int8,
        position_id -> Nullable<Int8>,
        stage -> Text,
        stage_entered_at -> Timestamptz,
        message -> Text,
        heard_from -> Nullable<Text>,
        utm_source -> Nullable<Text>,
        utm_medium -> Nullable<Text>,
        utm_campaign -> Nullable<Text>,
        submission_key -> Uuid,
        privacy_notice_version -> Text,
        privacy_accepted_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        campaign_id -> Nullable<Int8>,
        delivery_id -> Nullable<Int8>,
        channel_link_id -> Nullable<Int8>,
        spouse_support -> Nullable<Bool>,
        spouse_field -> Nullable<Text>,
        candidate_working_time -> Text,
        candidate_situation -> Text,
        candidate_specialty -> Text,
        candidate_centres -> Array<Int8>,
        pool_follow_up_on -> Nullable<Date>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        actor_id -> Nullable<Int8>,
        action -> Text,
        entity -> Text,
        entity_id -> Nullable<Int8>,
        detail -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    candidate_centres (candidate_id, centre_id) {
        candidate_id -> Int8,
        centre_id -> Int8,
    }
}

diesel::table! {
    candidate_notes (id) {
        id -> Int8,
        candidate_id -> Int8,
        author_id -> Int8,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    candidates (id) {
        id -> Int8,
        civility -> Text,
        first_name -> Text,
        last_name -> Text,
        email -> Text,
        email_normalized -> Text,
        phone -> Text,
        phone_normalized -> Text,
        rpps -> Nullable<Text>,
        specialty_code -> Text,
        situation -> Text,
        available_from -> Nullable<Date>,
        working_time -> Text,
        part_time_half_days -> Nullable<Int2>,
        on_call -> Bool,
        intern_training -> Bool,
        pool_consent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        last_activity_at -> Timestamptz,
        anonymised_at -> Nullable<Timestamptz>,
        consent_reminder_sent_at -> Nullable<Timestamptz>,
        submitted_rpps -> Nullable<Text>,
    }
}

diesel::table! {
    centres (id) {
        id -> Int8,
        name -> Text,
        kind -> Text,
        commune -> Text,
        insee_code -> Text,
        latitude -> Float8,
        longitude -> Float8,
        status -> Text,
        opened_on -> Nullable<Date>,
        closed_on -> Nullable<Date>,
        planned_fte_hundredths -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        street_address -> Text,
        postcode -> Text,
    }
}

diesel::table! {
    channel_link_visits (link_id, day) {
        link_id -> Int8,
        day -> Date,
        visits -> Int8,
    }
}

diesel::table! {
    channel_links (id) {
        id -> Int8,
        label -> Text,
        code -> Text,
        utm_source -> Text,
        utm_medium -> Text,
        utm_campaign -> Text,
        archived_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    documents (id) {
        id -> Int8,
        candidate_id -> Int8,
        application_id -> Nullable<Int8>,
        kind -> Text,
        original_name -> Text,
        storage_key -> Text,
        content_type -> Text,
        size_bytes -> Int8,
        sha256 -> Text,
        created_at -> Timestamptz,
        candidate_message_id -> Nullable<Int8>,
    }
}

diesel::table! {
    installation (singleton) {
        singleton -> Bool,
        id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Int8,
        account_key -> Text,
        client_ip -> Text,
        succeeded -> Bool,
        attempted_at -> Timestamptz,
    }
}

diesel::table! {
    meetings (id) {
        id -> Int8,
        application_id -> Int8,
        kind -> Text,
        starts_at -> Timestamptz,
        duration_minutes -> Int4,
        centre_id -> Nullable<Int8>,
        location -> Text,
        participants -> Text,
        note -> Text,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        sequence -> Int4,
        cancelled_at -> Nullable<Timestamptz>,
        answer -> Nullable<Text>,
        answered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    offer_allocations (id) {
        id -> Int8,
        offer_id -> Int8,
        centre_id -> Int8,
        half_days -> Int2,
        fte_hundredths -> Int4,
    }
}

diesel::table! {
    offers (id) {
        id -> Int8,
        application_id -> Int8,
        status -> Text,
        working_time -> Text,
        fte_hundredths -> Int4,
        starts_on -> Date,
        expires_on -> Date,
        on_call_terms -> Text,
        salary_note -> Text,
        created_by -> Nullable<Int8>,
        approved_by -> Nullable<Int8>,
        approved_at -> Nullable<Timestamptz>,
        sent_at -> Nullable<Timestamptz>,
        answered_at -> Nullable<Timestamptz>,
        decline_reason -> Nullable<Text>,
        superseded_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        approval_requested_at -> Nullable<Timestamptz>,
        approval_requested_by -> Nullable<Int8>,
    }
}

diesel::table! {
    outbound_emails (id) {
        id -> Int8,
        kind -> Text,
        candidate_id -> Nullable<Int8>,
        application_id -> Nullable<Int8>,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        message_id -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        ics -> Nullable<Text>,
        extra_headers -> Nullable<Text>,
    }
}

diesel::table! {
    placement_allocations (id) {
        id -> Int8,
        placement_id -> Int8,
        centre_id -> Int8,
        half_days -> Int2,
        fte_hundredths -> Int4,
        starts_on -> Date,
        ends_on -> Nullable<Date>,
        replaces_id -> Nullable<Int8>,
        note -> Nullable<Text>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    placements (id) {
        id -> Int8,
        application_id -> Int8,
        offer_id -> Int8,
        started_on -> Date,
        ended_on -> Nullable<Date>,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    position_centres (position_id, centre_id) {
        position_id -> Int8,
        centre_id -> Int8,
    }
}

diesel::table! {
    positions (id) {
        id -> Int8,
        title -> Text,
        specialty_code -> Nullable<Text>,
        description -> Text,
        fte_min_hundredths -> Int4,
        fte_max_hundredths -> Int4,
        published -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        closes_on -> Nullable<Date>,
    }
}

diesel::table! {
    scheduled_runs (job, run_key) {
        job -> Text,
        run_key -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    security_policy (id) {
        id -> Int4,
        require_totp -> Bool,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    specialties (code) {
        code -> Text,
        label -> Text,
        general_practice -> Bool,
    }
}

diesel::table! {
    staff_sessions (id) {
        id -> Int8,
        token_hash -> Text,
        user_id -> Int8,
        csrf_token -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        second_factor_pending -> Bool,
    }
}

diesel::table! {
    staff_users (id) {
        id -> Int8,
        email -> Text,
        display_name -> Text,
        role -> Text,
        password_hash -> Text,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        totp_secret -> Nullable<Text>,
        totp_enabled_at -> Nullable<Timestamptz>,
        totp_last_step -> Nullable<Int8>,
    }
}

diesel::table! {
    stage_counts (id) {
        id -> Int8,
        stage -> Text,
        delta -> Int8,
    }
}

diesel::table! {
    stage_email_templates (stage) {
        stage -> Text,
        subject -> Text,
        body -> Text,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Int8>,
    }
}

diesel::table! {
    stage_history (id) {
        id -> Int8,
        application_id -> Int8,
        from_stage -> Nullable<Text>,
        to_stage -> Text,
        actor_id -> Nullable<Int8>,
        reason -> Nullable<Text>,
        note -> Nullable<Text>,
        follow_up_on -> Nullable<Date>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    campaign_lists (campaign_id, list_id) {
        campaign_id -> Int8,
        list_id -> Int8,
    }
}

diesel::table! {
    campaign_runs (id) {
        id -> Int8,
        campaign_id -> Int8,
        scheduled_for -> Timestamptz,
        status -> Text,
        recipients -> Int4,
        next_slot_at -> Timestamptz,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        first_delivery_id -> Int8,
        last_delivery_id -> Int8,
        claim_cursor -> Int8,
        recheck_at -> Nullable<Timestamptz>,
        letter_report -> Nullable<Text>,
        without_email -> Int4,
    }
}

diesel::table! {
    campaigns (id) {
        id -> Int8,
        name -> Text,
        template_id -> Nullable<Int8>,
        sender_name -> Text,
        sender_email -> Text,
        rate_per_minute -> Int4,
        schedule_kind -> Text,
        scheduled_at -> Nullable<Timestamptz>,
        cron -> Nullable<Text>,
        status -> Text,
        created_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        kind -> Text,
        letter_subject -> Nullable<Text>,
        letter_body -> Nullable<Text>,
    }
}

diesel::table! {
    contact_lists (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    contacts (id) {
        id -> Int8,
        email -> Nullable<Text>,
        first_name -> Text,
        last_name -> Text,
        organisation_id -> Nullable<Int8>,
        kind -> Text,
        tags -> Array<Text>,
        city -> Text,
        legal_basis -> Text,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        address_complement -> Text,
        address_building -> Text,
        address_street -> Text,
        address_locality -> Text,
        postcode -> Text,
        postal_town -> Text,
        country -> Text,
        deceased -> Bool,
        no_letters_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Int8,
        run_id -> Int8,
        contact_id -> Nullable<Int8>,
        email -> Nullable<Text>,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        locked_until -> Nullable<Timestamptz>,
        smtp_code -> Nullable<Int4>,
        message_id -> Nullable<Text>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        unsubscribed_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        bounced_at -> Nullable<Timestamptz>,
        bounce_status -> Nullable<Text>,
        letter_code -> Nullable<Text>,
    }
}

diesel::table! {
    inbound_messages (id) {
        id -> Int8,
        mailbox -> Text,
        uid_validity -> Int8,
        uid -> Int8,
        size_bytes -> Int8,
        claimed_until -> Timestamptz,
        attempts -> Int4,
        kind -> Nullable<Text>,
        folder -> Nullable<Text>,
        delivery_id -> Nullable<Int8>,
        detail -> Text,
        error -> Nullable<Text>,
        processed_at -> Nullable<Timestamptz>,
        moved_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        raw -> Nullable<Bytea>,
        from_address -> Nullable<Text>,
        subject -> Nullable<Text>,
        excerpt -> Nullable<Text>,
        candidate_id -> Nullable<Int8>,
        resolved_at -> Nullable<Timestamptz>,
        resolved_by -> Nullable<Int8>,
    }
}

diesel::table! {
    link_clicks (id) {
        id -> Int8,
        delivery_id -> Int8,
        clicked_at -> Timestamptz,
        clicks -> Int4,
        last_clicked_at -> Timestamptz,
    }
}

diesel::table! {
    list_members (list_id, contact_id) {
        list_id -> Int8,
        contact_id -> Int8,
        added_at -> Timestamptz,
    }
}

diesel::table! {
    mail_templates (id) {
        id -> Int8,
        name -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        updated_by -> Nullable<Int8>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        preheader -> Text,
    }
}

diesel::table! {
    organisations (id) {
        id -> Int8,
        name -> Text,
        kind -> Text,
        city -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    relay_pacing (relay) {
        relay -> Text,
        next_slot_at -> Timestamptz,
    }
}

diesel::table! {
    soft_bounces (inbound_id) {
        inbound_id -> Int8,
        email -> Text,
        delivery_id -> Nullable<Int8>,
        status -> Text,
        occurred_at -> Timestamptz,
    }
}

diesel::table! {
    suppressions (email) {
        email -> Text,
        reason -> Text,
        detail -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(applications -> campaigns (campaign_id));
diesel::joinable!(applications -> deliveries (delivery_id));
diesel::joinable!(campaign_lists -> campaigns (campaign_id));
diesel::joinable!(campaign_lists -> contact_lists (list_id));
diesel::joinable!(campaign_runs -> campaigns (campaign_id));
diesel::joinable!(campaigns -> mail_templates (template_id));
diesel::joinable!(campaigns -> staff_users (created_by));
diesel::joinable!(contacts -> organisations (organisation_id));
diesel::joinable!(link_clicks -> deliveries (delivery_id));
diesel::joinable!(soft_bounces -> inbound_messages (inbound_id));
diesel::joinable!(list_members -> contact_lists (list_id));
diesel::joinable!(list_members -> contacts (contact_id));
diesel::joinable!(mail_templates -> staff_users (updated_by));
diesel::joinable!(applications -> candidates (candidate_id));
diesel::joinable!(applications -> positions (position_id));
diesel::joinable!(applications -> channel_links (channel_link_id));
diesel::joinable!(channel_link_visits -> channel_links (link_id));
diesel::joinable!(channel_links -> staff_users (created_by));
diesel::joinable!(audit_log -> staff_users (actor_id));
diesel::joinable!(candidate_centres -> candidates (candidate_id));
diesel::joinable!(candidate_centres -> centres (centre_id));
diesel::joinable!(candidate_notes -> candidates (candidate_id));
diesel::joinable!(candidate_notes -> staff_users (author_id));
diesel::joinable!(candidates -> specialties (specialty_code));
diesel::joinable!(documents -> applications (application_id));
diesel::joinable!(documents -> candidates (candidate_id));
diesel::joinable!(meetings -> applications (application_id));
diesel::joinable!(meetings -> centres (centre_id));
diesel::joinable!(meetings -> staff_users (created_by));
diesel::joinable!(outbound_emails -> applications (application_id));
diesel::joinable!(offer_allocations -> centres (centre_id));
diesel::joinable!(offer_allocations -> offers (offer_id));
diesel::joinable!(offers -> applications (application_id));
diesel::joinable!(outbound_emails -> candidates (candidate_id));
diesel::joinable!(placement_allocations -> centres (centre_id));
diesel::joinable!(placement_allocations -> placements (placement_id));
diesel::joinable!(placements -> applications (application_id));
diesel::joinable!(placements -> offers (offer_id));
diesel::joinable!(position_centres -> centres (centre_id));
diesel::joinable!(position_centres -> positions (position_id));
diesel::joinable!(positions -> specialties (specialty_code));
diesel::joinable!(staff_sessions -> staff_users (user_id));
diesel::joinable!(stage_email_templates -> staff_users (updated_by));
diesel::joinable!(stage_history -> applications (application_id));
diesel::joinable!(stage_history -> staff_users (actor_id));

diesel::allow_tables_to_appear_in_same_query!(
    campaign_lists,
    contact_imports,
    campaign_runs,
    campaigns,
    contact_lists,
    contacts,
    deliveries,
    inbound_messages,
    link_clicks,
    list_members,
    mail_templates,
    organisations,
    relay_pacing,
    soft_bounces,
    suppressions,
    applications,
    audit_log,
    candidate_centres,
    candidate_notes,
    candidates,
    centres,
    channel_link_visits,
    channel_links,
    documents,
    installation,
    login_attempts,
    meetings,
    offer_allocations,
    offers,
    outbound_emails,
    placement_allocations,
    placements,
    position_centres,
    positions,
    scheduled_runs,
    security_policy,
    specialties,
    staff_sessions,
    staff_users,
    stage_counts,
    stage_email_templates,
    stage_history,
    submissions,
);

diesel::table! {
    contact_imports (id) {
        id -> Int8,
        list_id -> Int8,
        uploaded_by -> Nullable<Int8>,
        filename -> Text,
        content -> Bytea,
        defaults -> Jsonb,
        created_at -> Timestamptz,
        applied_at -> Nullable<Timestamptz>,
        report -> Nullable<Jsonb>,
    }
}

diesel::joinable!(contact_imports -> contact_lists (list_id));
diesel::joinable!(contact_imports -> staff_users (uploaded_by));

diesel::table! {
    api_tokens (id) {
        id -> Int8,
        staff_user_id -> Int8,
        name -> Text,
        token_hash -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(api_tokens -> staff_users (staff_user_id));
diesel::allow_tables_to_appear_in_same_query!(api_tokens, staff_users);

diesel::table! {
    privacy_runs (id) {
        id -> Int8,
        run_on -> Date,
        anonymised_retention -> Int4,
        anonymised_without_consent -> Int4,
        documents_deleted -> Int4,
        consent_reminders -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    submissions (submission_key) {
        submission_key -> Uuid,
        application_id -> Int8,
        candidate_id -> Int8,
        match_kind -> Text,
        details -> Jsonb,
        created_candidate_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(submissions -> applications (application_id));
diesel::joinable!(submissions -> candidates (candidate_id));

diesel::table! {
    evaluation_criteria (id) {
        id -> Int8,
        name -> Text,
        description -> Text,
        position -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    evaluation_scores (evaluation_id, criterion_id) {
        evaluation_id -> Int8,
        criterion_id -> Int8,
        score -> Nullable<Int2>,
        comment -> Text,
    }
}

diesel::table! {
    evaluations (id) {
        id -> Int8,
        meeting_id -> Int8,
        author_id -> Nullable<Int8>,
        opinion -> Text,
        comment -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(evaluation_scores -> evaluation_criteria (criterion_id));
diesel::joinable!(evaluation_scores -> evaluations (evaluation_id));
diesel::joinable!(evaluations -> meetings (meeting_id));
diesel::joinable!(evaluations -> staff_users (author_id));
diesel::allow_tables_to_appear_in_same_query!(evaluation_criteria, evaluation_scores, evaluations);
diesel::allow_tables_to_appear_in_same_query!(evaluation_criteria, applications);
diesel::allow_tables_to_appear_in_same_query!(evaluation_criteria, candidates);
diesel::allow_tables_to_appear_in_same_query!(evaluation_criteria, centres);
diesel::allow_tables_to_appear_in_same_query!(evaluation_criteria, meetings);
diesel::allow_tables_to_appear_in_same_query!(evaluation_criteria, staff_users);
diesel::allow_tables_to_appear_in_same_query!(evaluation_scores, applications);
diesel::allow_tables_to_appear_in_same_query!(evaluation_scores, candidates);
diesel::allow_tables_to_appear_in_same_query!(evaluation_scores, centres);
diesel::allow_tables_to_appear_in_same_query!(evaluation_scores, meetings);
diesel::allow_tables_to_appear_in_same_query!(evaluation_scores, staff_users);
diesel::allow_tables_to_appear_in_same_query!(evaluations, applications);
diesel::allow_tables_to_appear_in_same_query!(evaluations, candidates);
diesel::allow_tables_to_appear_in_same_query!(evaluations, centres);
diesel::allow_tables_to_appear_in_same_query!(evaluations, meetings);
diesel::allow_tables_to_appear_in_same_query!(evaluations, staff_users);

diesel::table! {
    candidate_messages (id) {
        id -> Int8,
        candidate_id -> Int8,
        direction -> Text,
        automatic -> Bool,
        from_address -> Text,
        subject -> Text,
        body_text -> Text,
        message_id -> Nullable<Text>,
        refs -> Text,
        inbound_id -> Nullable<Int8>,
        outbound_email_id -> Nullable<Int8>,
        staff_id -> Nullable<Int8>,
        read_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(candidate_messages -> candidates (candidate_id));
diesel::joinable!(documents -> candidate_messages (candidate_message_id));
diesel::allow_tables_to_appear_in_same_query!(candidate_messages, candidates);
diesel::allow_tables_to_appear_in_same_query!(candidate_messages, documents);
diesel::allow_tables_to_appear_in_same_query!(candidate_messages, inbound_messages);
diesel::allow_tables_to_appear_in_same_query!(candidate_messages, outbound_emails);
diesel::allow_tables_to_appear_in_same_query!(candidate_messages, staff_users);
diesel::allow_tables_to_appear_in_same_query!(candidate_messages, applications);
