mod stepper;
