/*
 * Interrupt specifier constants for the invented "Fallow" board, in the
 * shape of a dt-bindings header shared with C. Written for the dmaverify
 * tests.
 */
#ifndef FALLOW_IRQ_H
#define FALLOW_IRQ_H

#define FALLOW_SPI		0
#define FALLOW_LEVEL_HIGH	4

#endif
