package postgres

// PlanModeSQL lets the external tests replace the plan-mode query.
var PlanModeSQL = &planModeSQL

// EstablishedTables are the tables planMode requires established.
var EstablishedTables = establishedTables
