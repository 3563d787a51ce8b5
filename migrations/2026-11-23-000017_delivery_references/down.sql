DROP TRIGGER contacts_detach_deliveries ON contacts;
DROP FUNCTION contacts_detach_deliveries();
DROP TRIGGER campaign_runs_delete_deliveries ON campaign_runs;
DROP FUNCTION campaign_runs_delete_deliveries();
DROP TRIGGER deliveries_references_on_update ON deliveries;
DROP FUNCTION deliveries_check_reference_row();
DROP TRIGGER deliveries_references_on_insert ON deliveries;
DROP FUNCTION deliveries_check_references();
DROP FUNCTION deliveries_reference_missing(text, text, bigint);
ALTER TABLE deliveries
    ADD CONSTRAINT deliveries_run_id_fkey FOREIGN KEY (run_id)
        REFERENCES campaign_runs (id) ON DELETE CASCADE,
    ADD CONSTRAINT deliveries_contact_id_fkey FOREIGN KEY (contact_id)
        REFERENCES contacts (id) ON DELETE SET NULL;
