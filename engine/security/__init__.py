"""Patient data protection (issue 14): the deployment key file and master-key providers (secrets, providers),
per-patient data keys and their erasure (patient_keys, patient_keys_postgres), field encryption (cipher), keyed
pseudonyms and blind indexes (pseudonyms), and which event fields identify a patient (phi)."""
