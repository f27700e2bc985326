-- Calendar campaigns (issue 18, design §3): per calendar journey, season and patient, what was scheduled, what
-- happened when the date came (entered, or why not), the split arm, the booking and each visit attended. The
-- analysts' analytics.campaign_attendance (engine/access/analytics_6_campaigns.sql) compares arms and seasons.

CREATE TABLE IF NOT EXISTS campaign_participants (
    journey_id      text        NOT NULL,
    season          integer     NOT NULL,   -- the year the rule's anchor takes (夏至's year for 伏, 冬至's for 九)
    patient_id      text        NOT NULL,
    journey_version integer,
    occurrence      date        NOT NULL,   -- the rule's date with its offset, moved to a working day if asked (CST)
    adjusted_from   date,                   -- the date before it moved to a working day
    scheduled_for   timestamptz,            -- the patient's instant (NULL: held)
    held_reason     text,                   -- why no date is scheduled (a year without official working days)
    outcome         text        NOT NULL,   -- scheduled, held, entered, not_in_audience, deceased, not_deployed,
                                            -- already_entered
    failed          text,                   -- JSON: the audience conditions that did not hold, described
    reached_at      timestamptz,            -- when the date came for the patient (calendar.reached)
    instance_id     text,                   -- the journey instance it started (outcome entered)
    arm             text,                   -- the split's arm, when the journey splits
    holdout         boolean,
    booked_at       timestamptz,            -- when the instance matched a booking (appointment.booked)
    last_attended_at timestamptz,           -- the latest visit attended this season
    PRIMARY KEY (journey_id, season, patient_id)
);
CREATE INDEX IF NOT EXISTS campaign_participants_instance ON campaign_participants (instance_id);
CREATE INDEX IF NOT EXISTS campaign_participants_patient ON campaign_participants (patient_id, outcome);

-- One row per visit of a campaign a patient attended (campaign.attended), e.g. 初伏, 中伏, 末伏.
CREATE TABLE IF NOT EXISTS campaign_visits (
    journey_id       text        NOT NULL,
    season           integer     NOT NULL,
    patient_id       text        NOT NULL,
    visit            text        NOT NULL,
    attended_at      timestamptz NOT NULL,
    instance_id      text        NOT NULL,
    matched_event_id text        NOT NULL,   -- the appointment.attended that showed it
    PRIMARY KEY (journey_id, season, patient_id, visit)
);
