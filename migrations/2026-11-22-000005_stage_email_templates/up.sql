-- One e-mail template per stage, editable by admins, proposed to the recruiter (who previews
-- and may edit it) when an application moves to that stage. Handlebars, plain text.
CREATE TABLE stage_email_templates (
    stage text PRIMARY KEY CHECK (stage IN ('premier_contact', 'entretien', 'visite', 'proposition',
        'acceptee', 'recrutee', 'refusee', 'desistement', 'vivier')),
    subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by bigint REFERENCES staff_users (id)
);

INSERT INTO stage_email_templates (stage, subject, body) VALUES
('premier_contact', 'Votre candidature au {{service}}',
'Bonjour {{prenom}} {{nom}},

Merci pour votre candidature. Nous aimerions faire votre connaissance : nous allons vous appeler dans les prochains jours au numéro que vous nous avez indiqué. Si un moment vous convient mieux, dites-le-nous en répondant à ce courriel.

Bien cordialement,
L''équipe de recrutement
{{service}}'),
('entretien', 'Proposition d''entretien – {{service}}',
'Bonjour {{prenom}} {{nom}},

À la suite de notre premier échange, nous vous proposons un entretien avec l''équipe du {{service}}. Nous reviendrons vers vous pour fixer la date ; vous pouvez aussi nous proposer des créneaux en répondant à ce courriel.

Bien cordialement,
L''équipe de recrutement'),
('visite', 'Venez découvrir le Gers et nos centres de santé',
'Bonjour {{prenom}} {{nom}},

Nous serions heureux de vous faire visiter le territoire et les centres de santé : rencontre des équipes, découverte des locaux, et si vous le souhaitez informations sur le logement et l''emploi du conjoint. Nous vous contacterons pour organiser cette visite.

Bien cordialement,
L''équipe de recrutement'),
('proposition', 'Notre proposition – {{service}}',
'Bonjour {{prenom}} {{nom}},

Nous avons le plaisir de vous adresser une proposition d''exercice au sein du {{service}}. Nous restons à votre disposition pour en parler.

Bien cordialement,
L''équipe de recrutement'),
('acceptee', 'Bienvenue au {{service}}',
'Bonjour {{prenom}} {{nom}},

Nous sommes ravis que vous ayez accepté notre proposition. Nous revenons vers vous très vite pour préparer votre arrivée.

Bien cordialement,
L''équipe de recrutement'),
('recrutee', 'Bienvenue parmi nous',
'Bonjour {{prenom}} {{nom}},

Toute l''équipe du {{service}} vous souhaite la bienvenue.

Bien cordialement,
L''équipe de recrutement'),
('refusee', 'Votre candidature au {{service}}',
'Bonjour {{prenom}} {{nom}},

Nous vous remercions de l''intérêt que vous portez au {{service}}. Après étude, nous ne pouvons pas donner suite à votre candidature pour le moment.

Nous vous souhaitons pleine réussite dans vos projets.

Bien cordialement,
L''équipe de recrutement'),
('desistement', 'Votre candidature au {{service}}',
'Bonjour {{prenom}} {{nom}},

Nous avons bien noté que vous ne souhaitez pas poursuivre votre candidature. Merci pour le temps que vous nous avez accordé ; notre porte reste ouverte.

Bien cordialement,
L''équipe de recrutement'),
('vivier', 'Nous gardons votre candidature',
'Bonjour {{prenom}} {{nom}},

Nous n''avons pas de poste correspondant à votre projet aujourd''hui, mais nous gardons votre candidature et reviendrons vers vous dès qu''une occasion se présentera.

Bien cordialement,
L''équipe de recrutement');
