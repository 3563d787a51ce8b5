-- Each scheduled job occurrence runs once, whatever the number of instances or ticks: the
-- instance that inserts (job, run_key) does the work, in the same transaction.
CREATE TABLE scheduled_runs (
    job text NOT NULL,
    run_key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job, run_key)
);
